"""Where and how a run executes: devices, torchrun processes, determinism, seeding, clean stops on signals,
progress for people, and the torch facts of the audit record. Everything here but `launch` imports torch."""
