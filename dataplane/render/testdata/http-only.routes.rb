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
                  :name => "httproute/default/web/rule/0/match/0",
                  :path => [:prefix, ""],
                  :backends => [{:weight => 1, :cluster => "svc-default-web-80-2a50d44e"}],
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
