# restore.rb: the per-pattern program of every cluster's backend group. The router
# rewrote the path to select the group; put the request's real path back, drop the
# internal headers, and in on_resp apply the rule's response header modifiers, looked
# up by their content key in the route table's :resp list. scripted.rb reuses this
# class for groups whose rule carries a user script.
class NgxgwRestore
  INTERNAL = "x-ngxgw-"

  def initialize(dir)
    @table = NgxgwTable.new(dir)
    @resp = nil
  end

  def reload
    t = @table.changed
    return unless t
    resp = {}
    t[:resp].each { |e| resp[e[0]] = e[1] }
    @resp = resp
  rescue
  end

  def on_req(env)
    restore(env)
  end

  # restore puts the real request back; false when it answered the request itself
  # (then nothing else may run for it).
  def restore(env)
    req = env.req
    h = req.headers
    path = h["x-ngxgw-path"]
    unless path
      # Only the router's rewrite leads here; anything else is refused.
      env.resp.status = 503
      env.resp.return("")
      return false
    end
    req.path = path[0]
    k = h["x-ngxgw-resp"]
    # Always assign: nghttpx may hand this request the ctx of an earlier one.
    env.ctx[:ngxgw_resp] = k ? k[0] : nil
    h.keys.each { |n| req.set_header(n, []) if n.start_with?(INTERNAL) }
    true
  rescue => e
    begin
      env.resp.status = 500
      env.resp.return("")
    rescue
    end
    false
  end

  def on_resp(env)
    k = env.ctx[:ngxgw_resp]
    return unless k
    reload
    ops = @resp && @resp[k]
    return unless ops
    resp = env.resp
    ops.each do |op|
      case op[0]
      when :set then resp.set_header(op[1], op[2])
      when :add then resp.add_header(op[1], op[2])
      else resp.set_header(op[1], [])
      end
    end
  rescue
    # An exception here would turn the backend's answer into an error; keep it.
  end
end

