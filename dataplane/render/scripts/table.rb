# table.rb: the route table (routes.rb in the state directory, a Ruby literal Go
# writes) as the router and the per-pattern programs read it. render puts this file
# in front of each program that needs it, since the programs are loaded separately.
class NgxgwTable
  def initialize(dir)
    @routes_path = dir + "/routes.rb"
    @version_path = dir + "/routes.version"
    @version = nil
  end

  # changed returns the table when routes.version changed since the last call, else
  # nil (also while there is no version file). A table that fails to load raises;
  # its version is remembered all the same, so it is retried only at the next one.
  def changed
    v = nil
    begin
      v = File.read(@version_path)
    rescue
      return nil
    end
    return nil if v == @version
    @version = v
    eval(File.read(@routes_path))
  end
end
