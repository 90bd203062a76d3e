# frozen_string_literal: true

# Stand-in sidekiq: nothing to load; see exe/sidekiq.
module Sidekiq
  STANDIN = true
end
