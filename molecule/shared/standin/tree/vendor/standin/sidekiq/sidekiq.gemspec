# frozen_string_literal: true

# Stand-in for the sidekiq gem: its executable starts the Mastodon stand-in's process.
Gem::Specification.new do |spec|
  spec.name = 'sidekiq'
  spec.version = '0.0.1'
  spec.summary = 'Mastodon stand-in sidekiq (test only)'
  spec.authors = ['herd']
  spec.license = 'AGPL-3.0-or-later'
  spec.files = ['lib/sidekiq.rb', 'exe/sidekiq']
  spec.bindir = 'exe'
  spec.executables = ['sidekiq']
  spec.require_paths = ['lib']
  spec.required_ruby_version = '>= 3.1'
end
