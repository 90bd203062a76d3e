"""Keep disks from filling: measure Mastodon's remote-media cache and the nginx proxy
cache, and prune them oldest first under disk (or quota) pressure."""
