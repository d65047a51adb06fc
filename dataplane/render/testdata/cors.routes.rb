# nghttpx-gateway route table, read by router.rb and restore.rb. Generated; do not edit.
{
  :ports => {
    80 => {
      :tls => false,
      :listeners => [
        {
          :vhosts => [
            {
              :rules => [
                {
                  :name => "c/0",
                  :path => [:prefix, "/cors-1"],
                  :cors => {
                    :origins => [
                      ["https", :host, "www.foo.com", 443],
                      ["https", :suffix, ".bar.com", 443],
                      ["http", :any, "", 8080],
                    ],
                    :methods => "GET\x2c OPTIONS",
                    :headers => "x-header-1\x2c x-header-2",
                    :max_age => "3600",
                    :key => "c6d98fdc0cd22ca06",
                  },
                  :backends => [
                    {
                      :weight => 1,
                      :cluster => "svc-default-v1-80-2e90e9d2",
                      :resp => "re3a387115b4a9325",
                    },
                  ],
                },
                {
                  :name => "c/1",
                  :path => [:prefix, "/star"],
                  :cors => {
                    :any => true,
                    :star => true,
                    :methods => "PUT",
                    :max_age => "5",
                    :key => "cd0df05f19e3537c7",
                  },
                  :backends => [{:weight => 1, :cluster => "svc-default-v1-80-2e90e9d2"}],
                },
                {
                  :name => "c/2",
                  :path => [:prefix, "/star-creds"],
                  :cors => {
                    :any => true,
                    :methods => :echo,
                    :headers => :echo,
                    :max_age => "5",
                    :key => "cc489d98a37b98b80",
                  },
                  :backends => [{:weight => 1, :cluster => "svc-default-v1-80-2e90e9d2"}],
                },
                {
                  :name => "c/3",
                  :path => [:prefix, "/redirect"],
                  :cors => {
                    :origins => [["https", :host, "www.foo.com", 443]],
                    :max_age => "5",
                    :key => "c9e4e1b124b3205b1",
                  },
                  :redirect => {:scheme => "http", :path => [:full, "/elsewhere"], :status => 302},
                },
                {
                  :name => "c/4",
                  :path => [:prefix, "/no-endpoints"],
                  :cors => {
                    :origins => [["https", :host, "www.foo.com", 443]],
                    :max_age => "5",
                    :key => "c9e4e1b124b3205b1",
                  },
                  :backends => [{:weight => 1, :status => 503}],
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
  :resp => [["re3a387115b4a9325", [[:set, "x-resp", "1"]]]],
  :cors => [
    [
      "c6d98fdc0cd22ca06",
      {
        :vary => true,
        :ops => [
          [:set, "access-control-allow-credentials", "true"],
          [:set, "access-control-expose-headers", "x-header-3\x2c x-header-4"],
        ],
      },
    ],
    [
      "c9e4e1b124b3205b1",
      {
        :vary => true,
        :ops => [[:remove, "access-control-allow-credentials"], [:remove, "access-control-expose-headers"]],
      },
    ],
    [
      "cc489d98a37b98b80",
      {
        :vary => true,
        :ops => [[:set, "access-control-allow-credentials", "true"], [:expose_all, ""]],
      },
    ],
    [
      "cd0df05f19e3537c7",
      {
        :vary => false,
        :ops => [
          [:remove, "access-control-allow-credentials"],
          [:set, "access-control-expose-headers", "\x2a\x2c x-extra"],
        ],
      },
    ],
  ],
}
