# The backend API spools each request body to a file made with mkostemp in /tmp.
# Data-plane pods have a read-only root file system and no /tmp volume, so every
# endpoint update would answer 500 there: use an anonymous memory file instead.
patch("src/shrpx_api_downstream_connection.cc", [
    ('    char tempname[] = "/tmp/nghttpx-api.XXXXXX";\n'
     "#ifdef HAVE_MKOSTEMP\n"
     "    fd_ = mkostemp(tempname, O_CLOEXEC);\n"
     "#else  // !HAVE_MKOSTEMP\n"
     "    fd_ = mkstemp(tempname);\n"
     "#endif // !HAVE_MKOSTEMP\n"
     "    if (fd_ == -1) {\n"
     "      send_reply(500, APIStatusCode::FAILURE);\n"
     "\n"
     "      return 0;\n"
     "    }\n"
     "#ifndef HAVE_MKOSTEMP\n"
     "    util::make_socket_closeonexec(fd_);\n"
     "#endif // HAVE_MKOSTEMP\n"
     "    unlink(tempname);\n",
     '    fd_ = memfd_create("nghttpx-api", MFD_CLOEXEC);\n'
     "    if (fd_ == -1) {\n"
     "      send_reply(500, APIStatusCode::FAILURE);\n"
     "\n"
     "      return 0;\n"
     "    }\n", 1),
])
