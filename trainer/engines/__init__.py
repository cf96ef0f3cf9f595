"""Training engines: `contract.py` says what an engine is, `registry.py` names every engine by its
`model.type`, and each engine is one module here (names_mlp, gpt, policy_gradient) that the registry
loads when a run starts. Torch-free at this level: importing the package or the registry imports no engine.
"""
