"""One router per concern: probes, the served model, scoring."""
