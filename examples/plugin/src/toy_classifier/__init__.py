"""toy_classifier: a Trainbook engine from a package of its own. `spec` declares it (torch-free), `engine` trains
(torch), `sections` renders its part of the run page (torch-free). It imports only `trainer.plugin` and
`trainer.figures.style`, the public kit, so Trainbook's insides can move without breaking it."""
