# frozen_string_literal: true

# Stand-in for the puma gem: its executable starts the Mastodon stand-in's process.
Gem::Specification.new do |spec|
  spec.name = 'puma'
  spec.version = '0.0.1'
  spec.summary = 'Mastodon stand-in puma (test only)'
  spec.authors = ['herd']
  spec.license = 'AGPL-3.0-or-later'
  spec.files = ['lib/puma.rb', 'exe/puma']
  spec.bindir = 'exe'
  spec.executables = ['puma']
  spec.require_paths = ['lib']
  spec.required_ruby_version = '>= 3.1'
end
