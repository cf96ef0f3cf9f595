"""Architectural introspection: what a network's activations, gradients, updates and BatchNorm
estimates look like during training (`stats`: the numbers, `recorder`: the training-loop observer
that collects them, `figures`: the plots on the run page)."""
