# nghttpx-gateway route table, read by router.rb and restore.rb. Generated; do not edit.
{
  :ports => {
    443 => {
      :tls => true,
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
    8443 => {
      :tls => true,
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
    9443 => {
      :tls => true,
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
  },
  :buckets => 0,
  :shards => "",
  :resp => [],
}
