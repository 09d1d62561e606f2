"""tinytorch.core.networks: the module name the course text uses for model containers
(`from tinytorch.core.networks import Sequential`). Re-exports module 03's classes; defines nothing."""

from tinytorch.core.layers import Dense, Linear, Module, ModuleList, Sequential

__all__ = ["Dense", "Linear", "Module", "ModuleList", "Sequential"]
