// Mastodon stand-in service worker placeholder (served by nginx as a static file).
self.addEventListener('install', () => self.skipWaiting());
