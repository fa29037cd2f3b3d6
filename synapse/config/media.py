"""The `media` section: where uploads are kept and how large they may be."""

import os

import attrs

from synapse.config._base import ParseContext
from synapse.config.server import DEFAULT_MAX_UPLOAD_SIZE

KEYS = frozenset({"media_store_path", "max_upload_size", "max_image_pixels", "dynamic_thumbnails"})


@attrs.frozen
class MediaConfig:
    media_store_path: str
    max_upload_size: int
    max_image_pixels: int
    dynamic_thumbnails: bool

    @classmethod
    def parse(cls, ctx: ParseContext) -> "MediaConfig":
        root = ctx.root
        return cls(
            media_store_path=root["media_store_path"].as_str(None) or os.path.join(ctx.data_dir, "media_store"),
            max_upload_size=root["max_upload_size"].size(DEFAULT_MAX_UPLOAD_SIZE),
            max_image_pixels=root["max_image_pixels"].size(32 * 1024 * 1024),
            dynamic_thumbnails=root["dynamic_thumbnails"].as_bool(False),
        )
