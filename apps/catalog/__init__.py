"""Catalog records: gateways, tools, resources, prompts and virtual servers."""
