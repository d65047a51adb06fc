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
                  :name => "httproute/default/to-https/rule/0/match/0",
                  :path => [:prefix, ""],
                  :redirect => {:scheme => "https", :status => 301},
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
        {:host => "a.example.com", :exact => true, :vhosts => []},
        {:host => "b.example.com", :exact => true, :vhosts => []},
      ],
    },
  },
  :buckets => 1,
  :shards => "eea67b12279ef2ed.names",
  :resp => [],
}
# routes.d/989319d2dc152662.rb
# nghttpx-gateway route table shard, read by router.rb. Generated; do not edit.
{
  "a.example.com" => [
    [
      443,
      0,
      true,
      [
        {
          :name => "httproute/default/a/rule/0/match/0",
          :path => [:prefix, ""],
          :backends => [{:weight => 1, :cluster => "svc-default-a-80-3084b952"}],
        },
      ],
    ],
  ],
  "b.example.com" => [
    [
      443,
      1,
      true,
      [
        {
          :name => "httproute/default/b/rule/0/match/0",
          :path => [:prefix, ""],
          :backends => [{:weight => 1, :cluster => "svc-default-b-80-db4c7251"}],
        },
      ],
    ],
  ],
}
