# frozen_string_literal: true

# Read by the stand-in's puma only for its presence (`-C config/puma.rb`); the values
# below are upstream's and the stand-in applies BIND and PORT itself.
threads_count = ENV.fetch('MAX_THREADS', 5).to_i
threads threads_count, threads_count

bind "tcp://#{ENV.fetch('BIND', '127.0.0.1')}:#{ENV.fetch('PORT', 3000)}"
environment ENV.fetch('RAILS_ENV', 'development')
workers ENV.fetch('WEB_CONCURRENCY', 2).to_i
