# A handler without a config: loading it is an InvalidConfig error.
def handler(_input, _ctx)
  { unreachable: true }
end
