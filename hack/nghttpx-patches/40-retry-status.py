# Retry on a backend response status (Gateway API HTTPRoute rule `retry`).
# nghttpx only re-sends a request when the backend connection fails before the request
# went out; a response, whatever its status, always reaches the client.
#
# The router names the rule's policy in an internal request header
#
#   x-ngxgw-retry: CODE[,CODE...];ATTEMPTS[;BACKOFF_MS]
#
# which nghttpx reads and removes once, just before the request is first forwarded (so
# it never reaches a backend, HTTP/1.1 or HTTP/2). When an HTTP/1.1 backend answers
# with a listed status, attempts remain and the request is complete without a body
# (nothing to replay), the response is dropped at its header block (no byte of it
# reached the client or the per-pattern on_resp), the backend connection is closed
# and, after BACKOFF_MS, the request is sent again in the same backend group (the
# group's selection is cached; the per-pattern mruby state of the request is kept so
# on_resp still sees env.ctx). When the budget is used up, the last response is
# forwarded as usual. ATTEMPTS is capped at 100. Requests to HTTP/2 backends and
# requests with a body are never re-sent on status.

patch("src/shrpx_downstream.h", [
    ("  bool no_more_retry() const;\n",
     "  bool no_more_retry() const;\n"
     "  // nghttpx-gateway: retry on a backend response status.  Reads and\n"
     "  // removes x-ngxgw-retry (CODES;ATTEMPTS[;BACKOFF_MS]) once.\n"
     "  void parse_status_retry();\n"
     "  // true, and one attempt used, when a response with |status| must be\n"
     "  // dropped and the request sent again.\n"
     "  bool status_retry_wanted(unsigned int status);\n"
     "  // Drops the backend connection (keeping the per-pattern mruby state:\n"
     "  // the retry stays in the same group) and sends the request again,\n"
     "  // after the backoff.  Returns nonzero if the handler must be deleted.\n"
     "  int status_retry();\n"
     "  // Sends the request again now.  Nonzero if the handler must be deleted.\n"
     "  int status_retry_send();\n"
     "  // Set between the dropped response's header block and status_retry().\n"
     "  bool status_retry_pending = false;\n", 1),
    ("  bool stop_reading_;\n",
     "  bool stop_reading_;\n"
     "  std::vector<unsigned int> status_retry_codes_;\n"
     "  size_t status_retry_left_ = 0;\n"
     "  ev_tstamp status_retry_backoff_ = 0.;\n"
     "  bool status_retry_parsed_ = false;\n"
     "  ev_timer status_retry_timer_;\n", 1),
])

patch("src/shrpx_downstream.cc", [
    ("  downstream_wtimer_.data = this;\n",
     "  downstream_wtimer_.data = this;\n"
     "\n"
     "  ev_timer_init(&status_retry_timer_, &status_retry_timeoutcb, 0., 0.);\n"
     "  status_retry_timer_.data = this;\n", 1),
    ("    ev_timer_stop(loop, &downstream_wtimer_);\n",
     "    ev_timer_stop(loop, &downstream_wtimer_);\n"
     "    ev_timer_stop(loop, &status_retry_timer_);\n", 1),
    ("Downstream::Downstream(",
     "namespace {\n"
     "void status_retry_timeoutcb(struct ev_loop *loop, ev_timer *w, int revents) {\n"
     "  auto downstream = static_cast<Downstream *>(w->data);\n"
     "  auto handler = downstream->get_upstream()->get_client_handler();\n"
     "  if (downstream->status_retry_send() != 0) {\n"
     "    delete handler;\n"
     "  }\n"
     "}\n"
     "} // namespace\n"
     "\n"
     "Downstream::Downstream(", 1),
    ("int Downstream::push_request_headers() {\n"
     "  if (!dconn_) {\n"
     "    DLOG(INFO, this) << \"dconn_ is NULL\";\n"
     "    return -1;\n"
     "  }\n",
     "int Downstream::push_request_headers() {\n"
     "  if (!dconn_) {\n"
     "    DLOG(INFO, this) << \"dconn_ is NULL\";\n"
     "    return -1;\n"
     "  }\n"
     "  parse_status_retry();\n", 1),
    ("void Downstream::add_retry() { ++num_retry_; }\n",
     "void Downstream::add_retry() { ++num_retry_; }\n"
     "\n"
     "void Downstream::parse_status_retry() {\n"
     "  if (status_retry_parsed_) {\n"
     "    return;\n"
     "  }\n"
     "  status_retry_parsed_ = true;\n"
     "  auto &hdrs = req_.fs.headers();\n"
     "  StringRef v;\n"
     "  auto found = false;\n"
     "  for (auto &kv : hdrs) {\n"
     "    if (util::strieq_l(\"x-ngxgw-retry\", kv.name)) {\n"
     "      v = kv.value;\n"
     "      found = true;\n"
     "    }\n"
     "  }\n"
     "  if (!found) {\n"
     "    return;\n"
     "  }\n"
     "  hdrs.erase(std::remove_if(std::begin(hdrs), std::end(hdrs),\n"
     "                            [](const HeaderRefs::value_type &kv) {\n"
     "                              return util::strieq_l(\"x-ngxgw-retry\",\n"
     "                                                    kv.name);\n"
     "                            }),\n"
     "             std::end(hdrs));\n"
     "  // CODE[,CODE...];ATTEMPTS[;BACKOFF_MS]; anything else disables retry.\n"
     "  std::vector<unsigned int> codes;\n"
     "  size_t field = 0, attempts = 0, backoff = 0, n = 0;\n"
     "  auto digit = false;\n"
     "  for (size_t i = 0; i <= v.size(); ++i) {\n"
     "    auto c = i < v.size() ? v[i] : ';';\n"
     "    if ('0' <= c && c <= '9') {\n"
     "      if (n > 1000000) {\n"
     "        return;\n"
     "      }\n"
     "      n = n * 10 + (c - '0');\n"
     "      digit = true;\n"
     "      continue;\n"
     "    }\n"
     "    if (!digit || (c != ',' && c != ';') || (c == ',' && field != 0)) {\n"
     "      return;\n"
     "    }\n"
     "    switch (field) {\n"
     "    case 0:\n"
     "      codes.push_back(n);\n"
     "      break;\n"
     "    case 1:\n"
     "      attempts = n;\n"
     "      break;\n"
     "    case 2:\n"
     "      backoff = n;\n"
     "      break;\n"
     "    default:\n"
     "      return;\n"
     "    }\n"
     "    if (c == ';') {\n"
     "      ++field;\n"
     "    }\n"
     "    n = 0;\n"
     "    digit = false;\n"
     "  }\n"
     "  if (field < 2) {\n"
     "    return;\n"
     "  }\n"
     "  status_retry_codes_ = std::move(codes);\n"
     "  status_retry_left_ = std::min(attempts, static_cast<size_t>(100));\n"
     "  status_retry_backoff_ = static_cast<ev_tstamp>(backoff) / 1000.;\n"
     "}\n"
     "\n"
     "bool Downstream::status_retry_wanted(unsigned int status) {\n"
     "  if (status_retry_left_ == 0 ||\n"
     "      std::find(std::begin(status_retry_codes_),\n"
     "                std::end(status_retry_codes_),\n"
     "                status) == std::end(status_retry_codes_)) {\n"
     "    return false;\n"
     "  }\n"
     "  // Only a complete request without a body can be sent again: the body\n"
     "  // of the first attempt is not kept.\n"
     "  if (request_state_ != DownstreamState::MSG_COMPLETE ||\n"
     "      req_.recv_body_length != 0 || upgraded_ ||\n"
     "      req_.method == HTTP_CONNECT || req_.connect_proto != ConnectProto::NONE) {\n"
     "    return false;\n"
     "  }\n"
     "  --status_retry_left_;\n"
     "  return true;\n"
     "}\n"
     "\n"
     "int Downstream::status_retry() {\n"
     "  status_retry_pending = false;\n"
     "  resp_.fs.clear_headers();\n"
     "  resp_.fs.content_length = -1;\n"
     "  reset_response();\n"
     "  request_header_sent_ = false;\n"
     "  // Not pop_downstream_connection(): it would drop the per-pattern mruby\n"
     "  // state, and the retry goes to the same group.\n"
     "  dconn_.reset();\n"
     "  request_buf_.reset();\n"
     "  if (status_retry_backoff_ > 0.) {\n"
     "    auto loop = upstream_->get_client_handler()->get_loop();\n"
     "    ev_timer_set(&status_retry_timer_, status_retry_backoff_, 0.);\n"
     "    ev_timer_start(loop, &status_retry_timer_);\n"
     "    return 0;\n"
     "  }\n"
     "  return status_retry_send();\n"
     "}\n"
     "\n"
     "int Downstream::status_retry_send() {\n"
     "  auto handler = upstream_->get_client_handler();\n"
     "  int rv;\n"
     "  for (;;) {\n"
     "    auto ndconn = handler->get_downstream_connection(rv, this);\n"
     "    if (!ndconn) {\n"
     "      break;\n"
     "    }\n"
     "    if (attach_downstream_connection(std::move(ndconn)) != 0) {\n"
     "      continue;\n"
     "    }\n"
     "    // The request is complete: end_upload_data() lets it go out.\n"
     "    if (push_request_headers() == 0 && dconn_->end_upload_data() == 0) {\n"
     "      return 0;\n"
     "    }\n"
     "  }\n"
     "  set_request_state(DownstreamState::CONNECT_FAIL);\n"
     "  return upstream_->on_downstream_abort_request(this, 502);\n"
     "}\n", 1),
])

patch("src/shrpx_http_downstream_connection.cc", [
    # Drop the response at its header block, before anything reaches the client.
    ("    // Ignore response body for non-final response.\n"
     "    return 1;\n"
     "  }\n"
     "\n"
     "  resp.connection_close = !llhttp_should_keep_alive(htp);\n",
     "    // Ignore response body for non-final response.\n"
     "    return 1;\n"
     "  }\n"
     "\n"
     "  if (downstream->status_retry_wanted(resp.http_status)) {\n"
     "    downstream->status_retry_pending = true;\n"
     "    return -1;\n"
     "  }\n"
     "\n"
     "  resp.connection_close = !llhttp_should_keep_alive(htp);\n", 1),
    # The parser stops there; report EOF before the request counted as sent, which
    # every upstream turns into SHRPX_ERR_RETRY for readcb.
    ("  if (htperr != HPE_OK &&\n"
     "      (!downstream_->get_upgraded() || htperr != HPE_PAUSED_UPGRADE)) {\n",
     "  if (htperr != HPE_OK &&\n"
     "      (!downstream_->get_upgraded() || htperr != HPE_PAUSED_UPGRADE)) {\n"
     "    if (downstream_->status_retry_pending) {\n"
     "      downstream_->set_request_header_sent(false);\n"
     "      return SHRPX_ERR_EOF;\n"
     "    }\n", 1),
    ("  rv = upstream->downstream_read(dconn);\n"
     "  if (rv != 0) {\n"
     "    if (rv == SHRPX_ERR_RETRY) {\n",
     "  rv = upstream->downstream_read(dconn);\n"
     "  if (rv != 0) {\n"
     "    if (rv == SHRPX_ERR_RETRY && downstream->status_retry_pending) {\n"
     "      // dconn is deleted here.\n"
     "      if (downstream->status_retry() != 0) {\n"
     "        delete handler;\n"
     "      }\n"
     "      return;\n"
     "    }\n"
     "    if (rv == SHRPX_ERR_RETRY) {\n", 1),
])

# Documented in --help, which is also how dataplane/features detects the patch.
patch("src/shrpx.cc", [
    ("  --mruby-file=<PATH>\n"
     "              Set mruby script file\n",
     "  --mruby-file=<PATH>\n"
     "              Set mruby script file\n\n"
     "              A request header \"x-ngxgw-retry: <CODES>;<N>[;<MS>]\"\n"
     "              (set by a script, removed  before forwarding) re-sends\n"
     "              a complete request without body up to <N> times, <MS>\n"
     "              ms apart,  when  its  HTTP/1.1  backend  answers  with\n"
     "              one of the comma-separated status <CODES>.\n", 1),
])
