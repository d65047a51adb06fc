# table.rb: the route table (routes.rb in the state directory, a Ruby literal Go
# writes) as the router and the per-pattern programs read it. render puts this file
# in front of each program that needs it, since the programs are loaded separately.
class NgxgwTable
  def initialize(dir)
    @routes_path = dir + "/routes.rb"
    @version_path = dir + "/routes.version"
    @gen_path = dir + "/routes.gen"
    @version = nil
  end

  # changed returns the table when its version changed since the last call, else
  # nil (also while there is no version file). A table that fails to load raises;
  # its version is remembered all the same, so it is retried only at the next one.
  # With NGXGW_MAPPED the version is routes.gen, a counter the applier bumps in
  # place after each write, read through a shared mapping (no system call); the
  # version file is read only while that counter does not exist yet.
  def changed
    v = NGXGW_MAPPED ? Nghttpx.mapped_word(@gen_path) : nil
    if v.nil?
      begin
        v = File.read(@version_path)
      rescue
        return nil
      end
    end
    return nil if v == @version
    @version = v
    eval(File.read(@routes_path))
  end

  # reset makes the next changed call read the table again.
  def reset
    @version = nil
  end

  # bucket is render's hostBucket: FNV-1a (32 bits) of host, masked to n
  # buckets (a power of two), which names the host's shard.
  def self.bucket(host, n)
    h = 2166136261
    i = 0
    size = host.bytesize
    while i < size
      h = ((h ^ host.getbyte(i)) * 16777619) & 0xffffffff
      i += 1
    end
    h & (n - 1)
  end
end
