"""Fine-tuning: prepare and validate chat-format data, train a LoRA locally (extra ``[finetune]``) or through
the OpenAI API, and serve the result as a model any candidate can use."""

from .prepare import examples_from_corpus, examples_from_qa, remove_contaminated, split_examples, write_jsonl
from .validate import ValidationReport, validate_file
from .workflow import PreparedData, fine_tune, newest_model, prepare_data

__all__ = [
    "PreparedData",
    "ValidationReport",
    "fine_tune",
    "newest_model",
    "prepare_data",
    "examples_from_corpus",
    "examples_from_qa",
    "remove_contaminated",
    "split_examples",
    "validate_file",
    "write_jsonl",
]
