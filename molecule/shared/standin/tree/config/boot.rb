# frozen_string_literal: true

# Like upstream's config/boot.rb: every entry point goes through Bundler, so a tree on
# which `bundle install` has not run (or whose Ruby the Gemfile refuses) fails here.
ENV['BUNDLE_GEMFILE'] ||= File.expand_path('../Gemfile', __dir__)

require 'bundler/setup'

module StandinBoot
  ROOT = File.expand_path('..', __dir__)

  # Replace this Ruby process by the stand-in's Python implementation of PROGRAM.
  def self.exec_python(program, argv)
    ENV['PYTHONDONTWRITEBYTECODE'] = '1' # keep the checkout free of untracked files
    exec('python3', File.join(ROOT, 'lib', 'standin', 'cli.py'), program, *argv)
  end
end
