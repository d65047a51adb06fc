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
                  :name => "httproute/default/split/rule/0/match/0",
                  :path => [:prefix, "/split"],
                  :backends => [
                    {:weight => 3, :cluster => "svc-default-v1-80-2e90e9d2"},
                    {:weight => 1, :cluster => "svc-default-v2-80-778bf769"},
                    {:weight => 1, :status => 500},
                  ],
                },
                {
                  :name => "httproute/default/split/rule/1/match/0",
                  :path => [:prefix, "/zero"],
                  :status => 500,
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
