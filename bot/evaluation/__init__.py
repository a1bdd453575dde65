"""NLU evaluation: the test and dev sets (and GermEval when present) against the trained model.

`python -m bot.cli evaluate` runs it and writes docs/nlu_evaluation.md and results/nlu_evaluation.json.
"""
from bot.evaluation.datasets import DatasetError, LabelledMessage, load_germeval, load_labelled_messages
from bot.evaluation.evaluate import EvaluationReport, HeldOutResult, evaluate_heldout, run_evaluation
from bot.evaluation.parsing import Prediction, load_agent, parse_messages
from bot.evaluation.report import render_markdown, to_json, write_report
from bot.evaluation.targets import TARGETS, check_targets

__all__ = [
    "TARGETS",
    "DatasetError",
    "EvaluationReport",
    "HeldOutResult",
    "LabelledMessage",
    "Prediction",
    "check_targets",
    "evaluate_heldout",
    "load_agent",
    "load_germeval",
    "load_labelled_messages",
    "parse_messages",
    "render_markdown",
    "run_evaluation",
    "to_json",
    "write_report",
]
