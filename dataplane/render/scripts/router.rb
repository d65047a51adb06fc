# The router: nghttpx's global mruby program. For every request it finds the rule in
# the route table (routes.rb, reloaded when its version changes, table.rb) and either
# answers directly (redirect, fixed status, 404) or steers the request to the rule's
# backend group, whose pattern is /__ngxgw/<key>/: with NGXGW_DIRECT (our nghttpx
# patch) by choosing the group (req.backend_group=), the request keeping its path;
# else by rewriting the path to the pattern, and restore.rb, run by every group,
# puts the real path back (x-ngxgw-path).
#
# The operator's global script (Ingress ConfigMap nghttpx-mruby-file-content), when
# there is one, runs first: its on_req sees the client's request (internal headers
# already stripped) and may answer it or change its path and authority, which then
# steer routing, as nghttpx runs a global script before backend selection. Its
# on_resp runs on every forwarded response, after the group's program.
class NgxgwRouter
  INTERNAL = "x-ngxgw-"

  def initialize(dir, pass_ports, operator)
    @table = NgxgwTable.new(dir)
    @pass = pass_ports
    @op = operator && operator.respond_to?(:on_req) ? operator : nil
    @ports = nil
    @cors = {}
    @dir = dir
    @nb = 0
    @names = ""
    @names_file = ""
    @shards = []
    @gen = 0
    @bucket_of = {}
  end

  def on_req(env)
    port = env.server_port
    return if @pass.include?(port) # backend API and health frontends
    begin
      # RequestMirror: the tee's requests (mirror.rb); x-ngxgw-* are trusted here only.
      return NgxgwMirror.internal(env) if port == NGXGW_INTERNAL_PORT
      hdrs = strip_internal(env.req)
      if @op
        $ngxgw_answered = false
        @op.on_req(env)
        return if $ngxgw_answered
        hdrs = nil # the operator's script may have changed them
      end
      route(env, port, hdrs)
    rescue Exception => e
      # Never let an exception reach nghttpx: answer 500 and keep serving.
      begin
        reply(env, 500, "internal error\n")
      rescue
      end
    end
  end

  # reload reads the table when the version file changed. A table that fails to load
  # leaves the previous one in place until the next version.
  def reload
    t = @table.changed
    return unless t
    @cors = NgxgwCORS.table(t)
    t[:ports].each_value { |p| p[:listeners].each { |l| l[:ix] = index(l[:vhosts]) } }
    shards(t[:buckets], t[:shards])
    @ports = t[:ports]
  rescue
  end

  # shards takes the head's shard list: the names of the bucket's shards, a
  # file of its own (read, not evaluated; names are digests of the content, so
  # the file changes only when some shard does). Loaded shards are checked
  # against it lazily, on their next use (exact), so picking up a change costs
  # a worker the head, this file and the shards that changed.
  def shards(nb, file)
    if file != @names_file
      @names = file.size > 0 ? File.read(@dir + "/routes.d/" + file) : ""
      @names_file = file
    end
    if nb != @nb
      @nb = nb
      @shards = Array.new(nb)
      @bucket_of = {}
    end
    @gen += 1
  end

  SHARD_NAME = 16
  # Hosts whose bucket is remembered; past this the memory starts over.
  BUCKETS_KEPT = 10000

  # bucket_of computes host's bucket and remembers it (exact's fast path is a
  # lookup in @bucket_of).
  def bucket_of(host)
    b = NgxgwTable.bucket(host, @nb)
    @bucket_of = {} if @bucket_of.size >= BUCKETS_KEPT
    @bucket_of[host] = b
  end

  # shard is bucket b's shard content after a reload: the loaded one when its
  # name is still in the list, else read from its file; :stale when that file
  # was gone, which means the table changed since the head was read (the
  # applier keeps one generation behind): then the head has been read again and
  # the caller starts over.
  def shard(b)
    s = @shards[b]
    name = @names[b * SHARD_NAME, SHARD_NAME]
    if s && s[1] == name
      s[2] = @gen
      return s[0]
    end
    begin
      # [content, name, the reload it was last checked in]
      s = @shards[b] = [eval(File.read(@dir + "/routes.d/" + name + ".rb")), name, @gen]
    rescue
      @table.reset
      reload
      return :stale
    end
    s[0]
  end

  # entry is the host's entry on listener li of port among its shard entries
  # es ([port, li, rest, rules] each), or nil.
  def entry(es, port, li)
    i = 0
    while i < es.size
      e = es[i]
      return e if e[0] == port && e[1] == li
      i += 1
    end
    nil
  end

  # index precomputes, for one listener, the rules a host tries in order (the rules of
  # every virtual host that matches it, in table order), so a request costs a hash
  # lookup per label instead of a scan: [exact hosts => rules, wildcard suffixes =>
  # rules, rules for any other host]. A host matches the wildcards whose suffix is a
  # label suffix of it, so its list is the one of its longest such suffix.
  def index(vhs)
    exact = {}
    wild = {}
    any = []
    i = 0
    while i < vhs.size
      vh = vhs[i]
      if vh[:host]
        (exact[vh[:host]] ||= []) << i
      elsif vh[:suffix]
        (wild[vh[:suffix]] ||= []) << i
      else
        any << i
      end
      i += 1
    end
    ws = {}
    wild.each_key { |s| ws[s] = rules_of(vhs, wild_of(wild, s, 0) + any) }
    es = {}
    exact.each do |h, ids|
      # An exact host also matches the wildcards in front of which it has a label.
      j = h.index(".", 1)
      es[h] = rules_of(vhs, ids + (j ? wild_of(wild, h, j) : []) + any)
    end
    [es, ws, rules_of(vhs, any)]
  end

  # wild_of lists the wildcard virtual hosts matching any host that ends with
  # s[from..] (itself a wildcard suffix): that suffix's and those of its label suffixes.
  def wild_of(wild, s, from)
    ids = []
    j = from
    while j
      w = wild[s[j, s.size]]
      ids += w if w
      j = s.index(".", j + 1)
    end
    ids
  end

  def rules_of(vhs, ids)
    rs = []
    ids.sort.each { |i| rs.concat(vhs[i][:rules]) }
    rs
  end

  # rules_for is index's answer for host: exact, else the longest wildcard suffix
  # (with at least one character in front), else the rules for any host.
  def rules_for(ix, host)
    r = ix[0][host]
    return r if r
    ws = ix[1]
    if ws.size > 0
      i = host.index(".", 1)
      while i
        r = ws[host[i, host.size]]
        return r if r
        i = host.index(".", i + 1)
      end
    end
    ix[2]
  end

  def reply(env, status, body)
    resp = env.resp
    resp.status = status
    resp.set_header("content-type", "text/plain; charset=utf-8") if body.size > 0
    resp.return(body)
  end

  # route: hdrs are the request's headers when known to be current, else nil;
  # again: the shard of the host was gone, so this is the second try.
  def route(env, port, hdrs, again = false)
    reload unless again
    ports = @ports
    return reply(env, 503, "no route table\n") unless ports
    p = ports[port]
    return reply(env, 404, "not found\n") unless p
    req = env.req
    @hdrs = hdrs
    host = norm_host(req.authority)
    ls = p[:listeners]
    li = find_listener(ls, host)
    if p[:tls]
      sni = env.tls_sni
      if sni && sni.size > 0 && find_listener(ls, norm_host(sni)) != li
        return reply(env, 421, "misdirected request\n")
      end
    end
    return reply(env, 404, "not found\n") unless li
    full = req.path
    q = full.index("?")
    path = q ? full[0, q] : full
    query = q ? full[q + 1, full.size] : nil
    l = ls[li]
    if l[:exact]
      # The host's own rules (shard), then, unless the entry holds them all,
      # those of the wildcard and any-host virtual hosts (head).
      s = @shards[@bucket_of[host] || bucket_of(host)]
      sh = s && s[2] == @gen ? s[0] : shard(@bucket_of[host])
      if sh == :stale
        raise "route table shard missing" if again
        return route(env, port, hdrs, true)
      end
      es = sh[host]
      if es
        e = es[0]
        e = entry(es, port, li) unless e[0] == port && e[1] == li
      end
      if e
        rs = e[3]
        i = 0
        while i < rs.size
          r = rs[i]
          return apply(env, p, r, host, path, query, full) if match?(r, req, path, query)
          i += 1
        end
        return reply(env, 404, "not found\n") unless e[2]
      end
    end
    rs = rules_for(l[:ix], host)
    i = 0
    while i < rs.size
      r = rs[i]
      return apply(env, p, r, host, path, query, full) if match?(r, req, path, query)
      i += 1
    end
    reply(env, 404, "not found\n")
  end

  # strip_internal removes client-sent x-ngxgw-* headers (only the router sets them)
  # and returns the remaining headers, or nil when they were not read (NGXGW_DIRECT:
  # nghttpx removes them without building the Hash).
  def strip_internal(req)
    if NGXGW_DIRECT
      req.remove_headers_with_prefix(INTERNAL)
      return nil
    end
    h = req.headers
    h.keys.each do |k|
      next unless k.start_with?(INTERNAL)
      req.set_header(k, [])
      h.delete(k)
    end
    h
  end

  # norm_host lower-cases the host and drops the port and a trailing dot.
  def norm_host(a)
    return "" if a.nil? || a.size == 0
    if a[0] == "["
      e = a.index("]")
      h = e ? a[0, e + 1] : a
    else
      c = a.index(":")
      h = c ? a[0, c] : a
    end
    h = h[0, h.size - 1] if h.size > 1 && h[h.size - 1] == "."
    h.downcase
  end

  # host_ok: :host is an exact name, :suffix a wildcard's ".domain" (at least one more
  # character in front), neither matches any host.
  def host_ok(e, host)
    x = e[:host]
    return x == host if x
    s = e[:suffix]
    return host.size > s.size && host.end_with?(s) if s
    true
  end

  def find_listener(ls, host)
    i = 0
    while i < ls.size
      return i if host_ok(ls[i], host)
      i += 1
    end
    nil
  end

  # match? reads the request's headers only for a rule that matches on them, once
  # per request (@hdrs, reset by route).
  def match?(r, req, path, query)
    pm = r[:path]
    v = pm[1]
    if pm[0] == :exact
      return false unless path == v
    else
      # Element-wise prefix; v has no trailing slash ("" for "/").
      return false unless v.size == 0 || path == v || (path.start_with?(v) && path[v.size] == "/")
    end
    m = r[:method]
    return false if m && req.method != m
    hs = r[:headers]
    if hs
      hdrs = (@hdrs ||= req.headers)
      hs.each do |h|
        vals = hdrs[h[0]]
        return false unless vals && vals.join(",") == h[1]
      end
    end
    qs = r[:query]
    if qs
      params = parse_query(query)
      qs.each do |x|
        return false unless params[x[0]] == x[1]
      end
    end
    true
  end

  # parse_query maps each parameter name to its first raw value.
  def parse_query(q)
    h = {}
    return h unless q
    q.split("&").each do |kv|
      e = kv.index("=")
      k = e ? kv[0, e] : kv
      h[k] = (e ? kv[e + 1, kv.size] : "") unless h.key?(k)
    end
    h
  end

  def apply(env, p, r, host, path, query, full)
    c = r[:cors]
    if c
      # CORS: answer preflights here; the router's own answers get the headers now,
      # forwarded requests through restore.rb (x-ngxgw-cors).
      hdrs = (@hdrs ||= env.req.headers)
      allow = NgxgwCORS.allow(c, hdrs)
      entry = @cors[c[:key]]
      return NgxgwCORS.preflight(env, c, entry, allow, hdrs) if NgxgwCORS.preflight?(env.req, hdrs)
      NgxgwCORS.respond(env.resp, entry, allow) if r[:redirect] || r[:status]
    end
    rd = r[:redirect]
    return redirect(env, r, rd, host, path, query, full) if rd
    st = r[:status]
    return reply(env, st, r[:body] || "") if st
    b = pick(r)
    st = b[:status]
    if st
      NgxgwCORS.respond(env.resp, entry, allow) if c
      return reply(env, st, st == 503 ? "no healthy upstream\n" : "")
    end
    req = env.req
    ops = b[:req]
    mod_headers(req, ops) if ops
    rw = r[:rewrite]
    if rw
      req.authority = rw[:host] if rw[:host]
      full = new_path(rw[:path], r, path) + (query ? "?" + query : "") if rw[:path]
    end
    if NGXGW_DIRECT
      req.path = full if rw && rw[:path]
    else
      req.set_header("x-ngxgw-path", full)
    end
    req.set_header("x-ngxgw-resp", b[:resp]) if b[:resp]
    req.set_header(NgxgwCORS::HEADER, allow ? c[:key] + " " + allow : c[:key]) if c
    # Retry policy for the patched nghttpx, which reads and removes it (restore.rb keeps it).
    req.set_header("x-ngxgw-retry", r[:retry]) if r[:retry]
    return if r[:mirror] && NgxgwMirror.tee(r, req, b[:cluster]) # RequestMirror (mirror.rb)
    if NGXGW_DIRECT
      # The pattern string is built once per table load.
      req.backend_group = (b[:pattern] ||= "/__ngxgw/" + b[:cluster] + "/")
    else
      req.path = "/__ngxgw/" + b[:cluster] + "/"
    end
  end

  # steer sends req to the backend group with key k.
  def self.steer(req, k)
    if NGXGW_DIRECT
      req.backend_group = "/__ngxgw/" + k + "/"
    else
      req.path = "/__ngxgw/" + k + "/"
    end
  end

  # new_path applies [:full, p] or [:prefix, replacement] to the matched path.
  def new_path(pm, r, path)
    return pm[1] if pm[0] == :full
    rest = path[r[:path][1].size, path.size] || ""
    np = pm[1] + rest
    np.size == 0 ? "/" : np
  end

  def redirect(env, r, rd, host, path, query, full)
    loc = rd[:scheme] + "://" + (rd[:host] || host)
    loc += ":" + rd[:port].to_s if rd[:port]
    loc += rd[:path] ? new_path(rd[:path], r, path) + (query ? "?" + query : "") : full
    resp = env.resp
    resp.status = rd[:status]
    resp.set_header("location", loc)
    resp.return("")
  end

  # pick is smooth weighted round robin, per worker, reset when the table reloads.
  def pick(r)
    bs = r[:backends]
    return bs[0] if bs.size == 1
    cur = r[:wrr]
    unless cur
      cur = r[:wrr] = Array.new(bs.size, 0)
      r[:total] = bs.inject(0) { |s, b| s + b[:weight] }
    end
    best = 0
    i = 0
    while i < bs.size
      cur[i] += bs[i][:weight]
      best = i if cur[i] > cur[best]
      i += 1
    end
    cur[best] -= r[:total]
    bs[best]
  end

  def mod_headers(req, ops)
    ops.each do |op|
      case op[0]
      when :set then req.set_header(op[1], op[2])
      when :add then req.add_header(op[1], op[2])
      else req.set_header(op[1], [])
      end
    end
  end
end

# NgxgwOperatorRouter adds the operator script's on_resp; without one the router has
# no on_resp, so nghttpx does not call into mruby for responses.
class NgxgwOperatorRouter < NgxgwRouter
  def initialize(dir, pass_ports, operator)
    super
    @op_resp = operator
  end

  def on_resp(env)
    return if @pass.include?(env.server_port)
    @op_resp.on_resp(env)
  rescue Exception
    begin
      env.resp.status = 500
      env.resp.return("")
    rescue Exception
    end
  end
end

# An operator script that fails to load raises here: nghttpx then refuses the whole
# configuration and keeps serving the previous one (as with a bad mruby-file).
NGXGW_OPERATOR_APP = NGXGW_OPERATOR_SCRIPT ? eval(File.read(NGXGW_OPERATOR_SCRIPT)) : nil
if NGXGW_OPERATOR_SCRIPT && !(NGXGW_OPERATOR_APP.respond_to?(:on_req) || NGXGW_OPERATOR_APP.respond_to?(:on_resp))
  raise "the operator mruby script must end with an object that has on_req or on_resp"
end
if NGXGW_OPERATOR_APP.respond_to?(:on_resp)
  NgxgwOperatorRouter.new(NGXGW_STATE_DIR, NGXGW_PASS_PORTS, NGXGW_OPERATOR_APP)
else
  NgxgwRouter.new(NGXGW_STATE_DIR, NGXGW_PASS_PORTS, NGXGW_OPERATOR_APP)
end
