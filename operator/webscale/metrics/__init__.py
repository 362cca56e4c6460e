"""Measure: the Prometheus source (one batched query per signal per poll), parsing its answers,
and the reasons a query failed. A source only measures; `autoscaling.decide` decides."""
