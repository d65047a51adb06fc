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
    443 => {
      :tls => true,
      :listeners => [
        {
          :host => "a.example.com",
          :vhosts => [
            {
              :host => "a.example.com",
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
  :resp => [],
}
