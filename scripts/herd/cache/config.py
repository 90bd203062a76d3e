"""Cleanup settings and their validation: every check runs before any change, and each
refusal names the setting and the fix."""

from dataclasses import dataclass, field
from pathlib import Path

from herd.cache import tootctl
from herd.errors import ConfigError

DEFAULT_ROOT = Path("/home/mastodon/live")
DEFAULT_NGINX_CACHE = Path("/var/cache/nginx")
DEFAULT_DAYS_STEPS = (30, 14, 7, 3, 1)
# Upstream refuses `preview_cards remove --days` under 14 (cards are re-fetched slowly).
PREVIEW_CARDS_MIN_DAYS = 14
# Relative to the Mastodon root: remote media that tootctl may refetch.
MEDIA_CACHE_SUBDIR = Path("public/system/cache")


@dataclass(frozen=True)
class S3Settings:
    bucket: str
    prefix: str  # e.g. "cache/" (or "<S3_KEY_PREFIX>/cache/")
    endpoint: str | None = None
    region: str | None = None
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class CleanupConfig:
    mastodon_root: Path = DEFAULT_ROOT
    media_cache_dir: Path | None = None  # None: <root>/public/system/cache
    nginx_cache_dir: Path | None = DEFAULT_NGINX_CACHE  # None: leave nginx's cache alone
    high_water: float = 90.0  # percent of the disk, or of the cache quota
    low_water: float = 80.0
    cache_quota_bytes: int | None = None  # set: act on cache size instead of disk fill
    days_steps: tuple[int, ...] = DEFAULT_DAYS_STEPS
    floor_days: int = 1
    preview_cards_days: int | None = None  # set: prune preview cards first
    media_remove_options: tuple[str, ...] = ()
    tootctl: str = "bin/tootctl"  # relative to the Mastodon root, or absolute
    tootctl_user: str | None = None  # run tootctl as this user (when started as root)
    tootctl_path: str = "/usr/local/bin:/usr/bin:/bin"  # PATH for tootctl (ruby, bundle)
    s3: S3Settings | None = None
    dry_run: bool = False

    @property
    def media_cache(self) -> Path:
        return self.media_cache_dir or self.mastodon_root / MEDIA_CACHE_SUBDIR

    @property
    def steps(self) -> tuple[int, ...]:
        """Days to prune with, longest first, none below the floor."""
        return tuple(sorted({d for d in self.days_steps if d >= self.floor_days}, reverse=True))

    @property
    def mode(self) -> str:
        return "quota" if self.cache_quota_bytes is not None else "disk"


def _inside(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def validate(config: CleanupConfig) -> CleanupConfig:
    """Return config if every setting is usable, else raise ConfigError naming it."""
    for name, value in (("high_water", config.high_water), ("low_water", config.low_water)):
        if not 0 < value <= 100:
            raise ConfigError(f"{name}: {value} is not a percentage; use a value in (0, 100]")
    if config.low_water >= config.high_water:
        raise ConfigError(
            f"low_water ({config.low_water}) must be below high_water ({config.high_water}); "
            "cleanup starts above high-water and stops below low-water")
    if config.cache_quota_bytes is not None and config.cache_quota_bytes <= 0:
        raise ConfigError(f"cache_quota_bytes: {config.cache_quota_bytes} must be a positive "
                          "number of bytes (or unset to act on disk fill)")
    if not config.days_steps:
        raise ConfigError("days_steps: give at least one number of days, e.g. 30,14,7,3,1")
    for days in (*config.days_steps, config.floor_days):
        if days <= 0:
            raise ConfigError(f"days_steps/floor_days: {days} must be a positive number of "
                              "days; media younger than a day is what users are reading now")
    if not config.steps:
        raise ConfigError(f"floor_days: {config.floor_days} is above every step in "
                          f"days_steps {list(config.days_steps)}; lower it or add a step")
    if config.preview_cards_days is not None and config.preview_cards_days < PREVIEW_CARDS_MIN_DAYS:
        raise ConfigError(f"preview_cards_days: {config.preview_cards_days} is below upstream's "
                          f"minimum of {PREVIEW_CARDS_MIN_DAYS} days; use {PREVIEW_CARDS_MIN_DAYS} "
                          "or more")
    root = config.mastodon_root
    if not root.is_absolute():
        raise ConfigError(f"mastodon_root: {root} must be an absolute path")
    media_cache = Path(config.media_cache).resolve()
    if not _inside(media_cache, root.resolve()) or media_cache == root.resolve():
        raise ConfigError(f"media_cache_dir: {config.media_cache} is outside the Mastodon tree "
                          f"{root}; point it at {root / MEDIA_CACHE_SUBDIR}")
    if config.nginx_cache_dir is not None:
        nginx = config.nginx_cache_dir
        if not nginx.is_absolute() or nginx.resolve() == Path("/"):
            raise ConfigError(f"nginx_cache_dir: {nginx} must be an absolute directory other "
                              "than /, e.g. /var/cache/nginx")
        resolved = nginx.resolve()
        if _inside(resolved, root.resolve()) or _inside(root.resolve(), resolved):
            raise ConfigError(f"nginx_cache_dir: {nginx} overlaps the Mastodon tree {root}; "
                              "herd deletes files there, so it must be nginx's own cache dir")
    tootctl.validate_options("media remove", list(config.media_remove_options),
                             variable="media_remove_options")
    return config
