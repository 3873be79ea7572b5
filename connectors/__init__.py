"""The connector contract, the registry, shared retry/pagination, one package per platform."""
