"""sealgate: reviewed, sealed changes to production secrets, applied by a GitOps controller."""

__version__ = "0.1.0"
