"""Model registry: catalog of pullable models, verified installs, ``theo.yaml`` manifests."""

from theo_rtc.registry.catalog import CatalogEntry, catalog_entry, load_catalog
from theo_rtc.registry.manifest import MANIFEST_FILE, ModelManifest
from theo_rtc.registry.sources import NullProgress, Progress
from theo_rtc.registry.store import InstalledModel, ModelStore

__all__ = [
    "MANIFEST_FILE",
    "CatalogEntry",
    "InstalledModel",
    "ModelManifest",
    "ModelStore",
    "NullProgress",
    "Progress",
    "catalog_entry",
    "load_catalog",
]
