"""Talking to models: the client, its cache and prices, the embedded server, embeddings.

Nothing here knows about the lifecycle (RAG, evaluation, runs); higher layers build on it.
"""
