# nghttpx-gateway route table, read by router.rb and restore.rb. Generated; do not edit.
{
  :ports => {
    8080 => {
      :tls => false,
      :listeners => [
        {
          :vhosts => [
            {
              :rules => [
                {
                  :name => "r/0",
                  :path => [:prefix, "/nil-nil"],
                  :redirect => {:scheme => "http", :port => 8080, :status => 302},
                },
                {
                  :name => "r/1",
                  :path => [:prefix, "/https-nil"],
                  :redirect => {:scheme => "https", :status => 301},
                },
                {
                  :name => "r/2",
                  :path => [:prefix, "/https-8443"],
                  :redirect => {:scheme => "https", :port => 8443, :status => 303},
                },
                {
                  :name => "r/3",
                  :path => [:prefix, "/nil-80"],
                  :redirect => {:scheme => "http", :host => "example.org", :status => 307},
                },
                {
                  :name => "r/4",
                  :path => [:prefix, "/prefix"],
                  :redirect => {
                    :scheme => "http",
                    :port => 8080,
                    :path => [:prefix, "/replacement"],
                    :status => 308,
                  },
                },
                {
                  :name => "r/5",
                  :path => [:exact, "/full"],
                  :redirect => {
                    :scheme => "http",
                    :port => 8080,
                    :path => [:full, "/full-replacement"],
                    :status => 302,
                  },
                },
              ],
            },
          ],
        },
      ],
    },
    443 => {
      :tls => true,
      :listeners => [
        {
          :vhosts => [
            {
              :rules => [
                {
                  :name => "r/6",
                  :path => [:prefix, ""],
                  :redirect => {:scheme => "http", :status => 302},
                },
              ],
            },
          ],
        },
      ],
    },
  },
  :buckets => 0,
  :shards => "",
  :resp => [],
}
