# cors.rb: CORS (HTTPRoute filter CORS) for the router and restore.rb. The router
# matches the request's Origin against the rule's :cors entry (see
# dataplane/render/cors.go), answers preflights itself and, for other requests, passes
# "<key>" or "<key> <allow-origin>" in x-ngxgw-cors; restore.rb then adds the headers
# to the backend's answer. This mruby has no Regexp: origins are split by hand.
module NgxgwCORS
  HEADER = "x-ngxgw-cors"

  # allow returns the access-control-allow-origin value for the request's Origin
  # under rule entry c, or nil when there is no single Origin or it is not allowed.
  def self.allow(c, hdrs)
    v = hdrs["origin"]
    return nil unless v && v.size == 1
    o = v[0]
    return nil if o.size == 0
    return (c[:star] ? "*" : o) if c[:any]
    parts = parse(o)
    return nil unless parts
    host = parts[1]
    c[:origins].each do |e|
      next unless e[0] == parts[0] && e[3] == parts[2]
      case e[1]
      when :any then return o
      when :host then return o if host == e[2]
      else return o if host.size > e[2].size && host.end_with?(e[2])
      end
    end
    nil
  end

  # parse splits "scheme://host[:port]" into [scheme, host, port], lower case, with the
  # scheme's default port when there is none; nil for anything else ("null", paths,
  # user info, bad ports). An IPv6 host "[...]" is kept as is (only "*" matches it).
  def self.parse(o)
    i = o.index("://")
    return nil unless i
    scheme = o[0, i].downcase
    port = scheme == "https" ? 443 : (scheme == "http" ? 80 : nil)
    return nil unless port
    rest = o[i + 3, o.size - i - 3].downcase
    if rest[0] == "["
      e = rest.index("]")
      return nil unless e
      host = rest[0, e + 1]
      tail = rest[e + 1, rest.size - e - 1]
    else
      c = rest.index(":")
      host = c ? rest[0, c] : rest
      tail = c ? rest[c, rest.size - c] : ""
      return nil unless name?(host)
    end
    if tail.size > 0
      return nil unless tail[0] == ":" && tail.size >= 2 && tail.size <= 6
      port = 0
      j = 1
      while j < tail.size
        d = tail[j]
        return nil unless d >= "0" && d <= "9"
        port = port * 10 + d.to_i
        j += 1
      end
      return nil if port < 1 || port > 65535
    end
    [scheme, host, port]
  end

  # name? accepts a non-empty host of lower-case letters, digits, dots and dashes.
  def self.name?(h)
    return false if h.size == 0
    j = 0
    while j < h.size
      ch = h[j]
      return false unless (ch >= "a" && ch <= "z") || (ch >= "0" && ch <= "9") || ch == "." || ch == "-"
      j += 1
    end
    true
  end

  # preflight? is a CORS preflight: OPTIONS with Origin and Access-Control-Request-Method.
  def self.preflight?(req, hdrs)
    req.method == "OPTIONS" && hdrs["origin"] && hdrs["access-control-request-method"] ? true : false
  end

  # preflight answers a preflight: 204 with the allow lists for an allowed Origin,
  # 403 without CORS headers otherwise (the browser then never sends the request).
  def self.preflight(env, c, entry, allow, hdrs)
    resp = env.resp
    unless allow
      resp.status = 403
      return resp.return("")
    end
    respond(resp, entry, allow)
    reflect(resp, "access-control-allow-methods", c[:methods], hdrs["access-control-request-method"])
    reflect(resp, "access-control-allow-headers", c[:headers], hdrs["access-control-request-headers"])
    resp.set_header("access-control-max-age", c[:max_age])
    resp.status = 204
    resp.return("")
  end

  # reflect sets an allow list: the configured one, or with :echo what the preflight
  # asked for (nothing when it asked for nothing).
  def self.reflect(resp, name, v, asked)
    if v == :echo
      resp.set_header(name, asked.join(", ")) if asked && asked.size > 0
    elsif v
      resp.set_header(name, v)
    end
  end

  # respond adds the headers every answer of a CORS rule gets: Vary (entry[:vary]),
  # and for an allowed Origin (allow not nil) access-control-allow-origin and
  # entry[:ops].
  def self.respond(resp, entry, allow)
    return unless entry
    resp.add_header("vary", "Origin") if entry[:vary]
    return unless allow
    resp.set_header("access-control-allow-origin", allow)
    entry[:ops].each do |op|
      case op[0]
      when :set then resp.set_header(op[1], op[2])
      when :remove then resp.set_header(op[1], [])
      else expose_all(resp, op[1])
      end
    end
  end

  # expose_all exposes names (a list, may be "") and every header of the response
  # itself except the CORS ones.
  def self.expose_all(resp, names)
    list = names.size > 0 ? [names] : []
    resp.headers.keys.each { |k| list << k unless k.start_with?("access-control-") }
    resp.set_header("access-control-expose-headers", list.size > 0 ? list.join(", ") : [])
  end

  # table maps the route table's top-level :cors list by key.
  def self.table(t)
    m = {}
    (t[:cors] || []).each { |e| m[e[0]] = e[1] }
    m
  end

  # split reads x-ngxgw-cors: [key, allow-origin or nil].
  def self.split(v)
    sp = v.index(" ")
    sp ? [v[0, sp], v[sp + 1, v.size - sp - 1]] : [v, nil]
  end
end
