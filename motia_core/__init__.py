"""motia-core: a unified backend framework where everything is a Step."""

__all__ = ("__version__",)

__version__ = "0.1.0"
