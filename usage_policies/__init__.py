"""ODRL 2.2 usage policies: model, fail-closed evaluator, signed policies and templates."""
