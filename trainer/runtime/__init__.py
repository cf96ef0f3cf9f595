"""Where and how a run executes: devices, torchrun processes, determinism, seeding, clean stops on signals,
progress for people, and the torch facts of the audit record. Everything here but `launch` and `faults`
(the test-only fault switch, which every persistent write consults) imports torch."""
