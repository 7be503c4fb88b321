"""The Contoso tool set: customer lookup, order status and product search, backed by datasets/contoso/.

``customers.json`` and ``orders.json`` (written by ``datasets/contoso/build_conversations.py``) hold the
customers and orders; product search ranks the chunks of the product manuals in a RAG index
(:mod:`workbench.rag`; BM25 by default, any :class:`~workbench.rag.retrieval.Retriever` via ``retriever``).
Registered as the toolset ``contoso``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from ..config import settings
from .tools import ToolSet, register_toolset, tool

DATA_DIR = Path(__file__).resolve().parents[2] / "datasets" / "contoso"


def data_dir() -> Path:
    """Where the Contoso files are: ``<project>/datasets/contoso`` when it exists, else the package checkout's."""
    d = settings().project_dir / "datasets" / "contoso"
    return d if (d / "customers.json").exists() else DATA_DIR


@cache
def _table(path: str, key: str) -> dict[str, dict]:
    return {r[key]: r for r in json.loads(Path(path).read_text())}


@cache
def _default_retriever(manuals: str):
    from ..rag.build import index_corpus
    from ..rag.retrieval import Retriever

    index, _ = index_corpus(manuals, progress=False)
    return Retriever(index, kind="bm25", top_k=3)


def _one_string(name: str, description: str | None = None) -> dict:
    """The JSON schema of a tool taking one required string argument."""
    prop = {"type": "string", **({"description": description} if description else {})}
    return {"type": "object", "properties": {name: prop}, "required": [name]}


def contoso_tools(retriever=None, root: str | Path | None = None) -> ToolSet:
    """The three Contoso tools over the files in ``root`` (default :func:`data_dir`)."""
    base = Path(root) if root else data_dir()

    @tool(_one_string("customer_id", "e.g. C001"))
    def customer_lookup(customer_id: str) -> dict:
        """A customer's name, loyalty tier, points and order ids, by customer id."""
        customers = _table(str(base / "customers.json"), "customer_id")
        if customer_id not in customers:
            raise KeyError(f"no customer {customer_id!r}")
        orders = [
            o["order_id"]
            for o in _table(str(base / "orders.json"), "order_id").values()
            if o["customer_id"] == customer_id
        ]
        c = customers[customer_id]
        return {
            "customer_id": customer_id,
            "name": c["name"],
            "tier": c["tier"],
            "points": c["points"],
            "orders": orders,
        }

    @tool(_one_string("order_id", "e.g. ORD-1001"))
    def order_status(order_id: str) -> dict:
        """An order's status, carrier, items and total, by order id."""
        orders = _table(str(base / "orders.json"), "order_id")
        if order_id not in orders:
            raise KeyError(f"no order {order_id!r}")
        return {k: v for k, v in orders[order_id].items() if k != "customer_id"}

    @tool(_one_string("query"))
    def product_search(query: str) -> list[dict]:
        """Search the product catalogue and manuals; returns the best passages."""
        found = (retriever or _default_retriever(str(base / "manuals"))).retrieve(query)
        return [{"product": h.chunk.title, "doc_id": h.chunk.doc_id, "text": h.chunk.text[:400]} for h in found]

    return ToolSet([customer_lookup, order_status, product_search])


register_toolset("contoso", contoso_tools)
