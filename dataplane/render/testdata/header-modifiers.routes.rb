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
                  :name => "h/0",
                  :path => [:prefix, ""],
                  :backends => [
                    {
                      :weight => 1,
                      :cluster => "svc-default-v1-80-2e90e9d2",
                      :req => [
                        [:set, "x-header-set", "set-overwrites-values"],
                        [:add, "x-header-add", "header-val-1"],
                        [:remove, "x-header-remove"],
                        [:add, "x-backend", "v1"],
                      ],
                      :resp => "r5cc99feee5f4e53a",
                    },
                    {
                      :weight => 1,
                      :cluster => "svc-default-v1-80-2e90e9d2",
                      :req => [
                        [:set, "x-header-set", "set-overwrites-values"],
                        [:add, "x-header-add", "header-val-1"],
                        [:remove, "x-header-remove"],
                        [:add, "x-backend", "v1-again"],
                      ],
                      :resp => "rbac7586e29c72577",
                    },
                  ],
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
  :resp => [
    [
      "r5cc99feee5f4e53a",
      [[:set, "x-resp-set", "one\x2c two"], [:remove, "server"], [:add, "x-backend-resp", "v1"]],
    ],
    ["rbac7586e29c72577", [[:set, "x-resp-set", "one\x2c two"], [:remove, "server"]]],
  ],
}
