// Mastodon stand-in front-end entry point: assets:precompile copies it into public/packs.
document.documentElement.dataset.standin = 'mastodon';
