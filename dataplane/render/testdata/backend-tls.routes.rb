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
                  :name => "httproute/default/r/rule/0/match/0",
                  :path => [:exact, "/ca"],
                  :backends => [{:weight => 1, :cluster => "svc-default-ca-443-7be18533"}],
                },
                {
                  :name => "httproute/default/r/rule/1/match/0",
                  :path => [:exact, "/san"],
                  :backends => [{:weight => 1, :cluster => "svc-default-san-443-84e5faf7"}],
                },
                {
                  :name => "httproute/default/r/rule/2/match/0",
                  :path => [:exact, "/system"],
                  :backends => [{:weight => 1, :cluster => "svc-default-system-443-473dd2d6"}],
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
