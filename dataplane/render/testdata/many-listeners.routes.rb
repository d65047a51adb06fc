# nghttpx-gateway route table, read by router.rb and restore.rb. Generated; do not edit.
{
  :ports => {
    80 => {
      :tls => false,
      :listeners => [
        {:host => "bar.com", :exact => true, :vhosts => []},
        {
          :suffix => ".foo.bar.com",
          :vhosts => [
            {
              :suffix => ".foo.bar.com",
              :rules => [
                {
                  :name => "l/wildcard-long",
                  :path => [:prefix, ""],
                  :backends => [{:weight => 1, :cluster => "svc-default-v2-80-778bf769"}],
                },
              ],
            },
          ],
        },
        {
          :suffix => ".bar.com",
          :exact => true,
          :vhosts => [
            {
              :suffix => ".bar.com",
              :rules => [
                {
                  :name => "l/wildcard",
                  :path => [:prefix, ""],
                  :backends => [{:weight => 1, :cluster => "svc-default-v3-80-4a01e851"}],
                },
              ],
            },
          ],
        },
        {
          :vhosts => [
            {
              :rules => [
                {
                  :name => "l/any",
                  :path => [:prefix, ""],
                  :backends => [{:weight => 1, :cluster => "svc-default-v1-80-2e90e9d2"}],
                },
              ],
            },
          ],
        },
      ],
    },
    8080 => {
      :tls => false,
      :listeners => [
        {
          :vhosts => [
            {
              :rules => [
                {
                  :name => "l/other-port",
                  :path => [:prefix, ""],
                  :backends => [{:weight => 1, :cluster => "svc-default-v2-80-778bf769"}],
                },
              ],
            },
          ],
        },
      ],
    },
  },
  :buckets => 1,
  :shards => "f7037c96282c3696.names",
  :resp => [],
}
# routes.d/696cff7d5a1fa531.rb
# nghttpx-gateway route table shard, read by router.rb. Generated; do not edit.
{
  "bar.com" => [
    [
      80,
      0,
      true,
      [
        {
          :name => "l/exact",
          :path => [:prefix, ""],
          :backends => [{:weight => 1, :cluster => "svc-default-v1-80-2e90e9d2"}],
        },
      ],
    ],
  ],
  "exact.bar.com" => [
    [
      80,
      2,
      true,
      [
        {
          :name => "l/wildcard/exact",
          :path => [:prefix, "/only"],
          :backends => [{:weight => 1, :cluster => "svc-default-v1-80-2e90e9d2"}],
        },
      ],
    ],
  ],
}
