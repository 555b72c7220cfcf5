"""Errors of the sentiment package. Only ``monitor.cli.sentiment`` turns them into exit codes."""

from __future__ import annotations


class SentimentError(Exception):
    """Base class: something the user can fix (a path, a file's contents, an option)."""


class ModelNotFound(SentimentError):
    """SnowNLP's data files, or a trained model file, could not be found or read."""


class BadInput(SentimentError):
    """Input text or a labelled CSV file that cannot be used (with where and what to do)."""
