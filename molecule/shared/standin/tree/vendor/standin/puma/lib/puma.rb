# frozen_string_literal: true

# Stand-in puma: nothing to load; see exe/puma.
module Puma
  STANDIN = true
end
