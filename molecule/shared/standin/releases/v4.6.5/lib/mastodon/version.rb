# frozen_string_literal: true

# Release of the Mastodon stand-in, in upstream's file and layout.
module Mastodon
  module Version
    module_function

    def major
      4
    end

    def minor
      6
    end

    def patch
      5
    end

    def to_s
      [major, minor, patch].join('.')
    end
  end
end
