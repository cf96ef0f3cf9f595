"""The shared language-model training loop (`lm`) and its optimisers and schedules (`optim`)."""
