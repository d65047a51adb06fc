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
                  :name => "httproute/default/a/rule/0/match/0",
                  :path => [:prefix, ""],
                  :backends => [{:weight => 1, :cluster => "svc-default-a-80-3084b952"}],
                },
              ],
            },
          ],
        },
      ],
    },
    443 => {:tls => true, :listeners => [{:host => "a.example.com", :exact => true, :vhosts => []}]},
  },
  :buckets => 1,
  :shards => "b5821948ccd3330c.names",
  :resp => [],
}
# routes.d/afb5716b88ab5f59.rb
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
}
