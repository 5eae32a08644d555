"""Usage control at the receiving connector: the gate, decisions, duties, world facts, audit."""
