"""PromQL as a language: the label contract, batched queries, escaping, user templates and the
scrape relabelling that produces the labels. Pure; imports nothing else of webscale."""
