"""Evaluations of trained models: sampling, and multiple-choice completion in HellaSwag's format."""
