# frozen_string_literal: true

module MotiaRunner
  VERSION = '0.1.0'
end
